//! Shaders without a GPU: naga parses and validates every `shaders/*.wgsl` with no optional
//! capabilities (portable WGSL; `conv2d_sg.wgsl` with subgroups and nothing else), every kernel signature matches its shader's bindings and Params
//! size, and naga's SPIR-V, MSL and HLSL back ends translate every entry point — the portability
//! proof for Vulkan, Metal and DX12 this GPU-less machine can give. And the generated
//! `conv2d_sg.wgsl` is its generator's output.
use cloudfill::gpu::Shader;
use naga::valid::{Capabilities, ValidationFlags, Validator};

/// The optional capabilities a shader family may use: none, except the subgroup family.
fn capabilities(shader: Shader) -> Capabilities {
    match shader {
        Shader::Conv2dSg => Capabilities::SUBGROUP,
        _ => Capabilities::empty(),
    }
}

fn parse(shader: Shader) -> (naga::Module, naga::valid::ModuleInfo) {
    let module = naga::front::wgsl::parse_str(shader.source())
        .unwrap_or_else(|e| panic!("{}: {}", shader.file(), e.emit_to_string(shader.source())));
    let info = Validator::new(ValidationFlags::all(), capabilities(shader))
        .validate(&module)
        .unwrap_or_else(|e| panic!("{}: {}", shader.file(), e.emit_to_string(shader.source())));
    (module, info)
}

#[test]
fn every_shader_file_is_known_and_validates() {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/shaders");
    let mut files: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|n| n.ends_with(".wgsl"))
        .collect();
    files.sort();
    let mut known: Vec<String> = Shader::ALL.iter().map(|s| s.file().to_string()).collect();
    known.extend(Shader::PRELUDES.iter().map(|p| p.to_string()));
    known.sort();
    assert_eq!(files, known, "shaders/ and Shader::ALL + PRELUDES disagree");
    let read = |f: &str| std::fs::read_to_string(format!("{dir}/{f}")).unwrap();
    for s in Shader::ALL {
        let prelude = s.prelude().map(read).unwrap_or_default();
        let mut on_disk = prelude + &read(s.file());
        if s == Shader::BatchNorm {
            on_disk = cloudfill::gpu::expand_units(&on_disk);
        }
        assert_eq!(on_disk, s.source(), "{} embedded copy is stale", s.file());
        parse(s);
    }
}

/// Every entry point of every shader has a signature, and the signature's bindings (read-only
/// storage, then read-write storage, then one uniform of the Params size) are exactly what the
/// entry point uses.
#[test]
fn signatures_match_shader_bindings() {
    let sigs = cloudfill::ops::all_sigs();
    for s in Shader::ALL {
        let (module, info) = parse(s);
        for (ei, ep) in module.entry_points.iter().enumerate() {
            let sig = sigs
                .iter()
                .find(|k| k.shader == s && k.entry == ep.name)
                .unwrap_or_else(|| panic!("{}::{} has no KernelSig", s.file(), ep.name));
            let fi = info.get_entry_point(ei);
            let mut used: Vec<(u32, String, usize)> = Vec::new();
            for (h, gv) in module.global_variables.iter() {
                if fi[h].is_empty() {
                    continue;
                }
                let Some(b) = &gv.binding else { continue };
                assert_eq!(b.group, 0, "{}::{}: group", s.file(), ep.name);
                let (kind, size) = match gv.space {
                    naga::AddressSpace::Storage { access } => {
                        let rw = access.contains(naga::StorageAccess::STORE);
                        ((if rw { "rw" } else { "r" }).to_string(), 0)
                    }
                    naga::AddressSpace::Uniform => (
                        "uniform".to_string(),
                        module.types[gv.ty].inner.size(module.to_ctx()) as usize,
                    ),
                    other => panic!("{}::{}: unexpected space {other:?}", s.file(), ep.name),
                };
                used.push((b.binding, kind, size));
            }
            used.sort();
            let mut want: Vec<(u32, String, usize)> = Vec::new();
            for i in 0..sig.reads {
                want.push((i, "r".into(), 0));
            }
            for i in 0..sig.writes {
                want.push((sig.reads + i, "rw".into(), 0));
            }
            if sig.params > 0 {
                want.push((sig.reads + sig.writes, "uniform".into(), sig.params));
            }
            assert_eq!(
                used,
                want,
                "{}::{} bindings vs KernelSig",
                s.file(),
                ep.name
            );
        }
    }
    for k in &sigs {
        let (module, _) = parse(k.shader);
        assert!(
            module.entry_points.iter().any(|e| e.name == k.entry),
            "KernelSig {}::{} names no entry point",
            k.shader.file(),
            k.entry
        );
    }
}

#[test]
fn every_entry_point_translates_to_spirv_msl_hlsl() {
    for s in Shader::ALL {
        let (module, info) = parse(s);
        for ep in &module.entry_points {
            let name = ep.name.clone();
            let stage = naga::ShaderStage::Compute;
            let (m, i) = naga::back::pipeline_constants::process_overrides(
                &module,
                &info,
                Some((stage, &name)),
                &Default::default(),
            )
            .unwrap_or_else(|e| panic!("{}::{name}: overrides: {e}", s.file()));
            let spv_pipe = naga::back::spv::PipelineOptions {
                shader_stage: stage,
                entry_point: name.clone(),
            };
            naga::back::spv::write_vec(&m, &i, &Default::default(), Some(&spv_pipe))
                .unwrap_or_else(|e| panic!("{}::{name}: SPIR-V: {e}", s.file()));
            let msl_pipe = naga::back::msl::PipelineOptions {
                entry_point: Some((stage, name.clone())),
                ..Default::default()
            };
            naga::back::msl::write_string(&m, &i, &Default::default(), &msl_pipe)
                .unwrap_or_else(|e| panic!("{}::{name}: MSL: {e}", s.file()));
            let hlsl_opts = naga::back::hlsl::Options::default();
            let hlsl_pipe = naga::back::hlsl::PipelineOptions {
                entry_point: Some((stage, name.clone())),
            };
            let mut out = String::new();
            naga::back::hlsl::Writer::new(&mut out, &hlsl_opts, &hlsl_pipe)
                .write(&m, &i, None)
                .unwrap_or_else(|e| panic!("{}::{name}: HLSL: {e}", s.file()));
        }
    }
}

/// The shipped `conv2d_sg.wgsl` is what its generator (`src/ops/conv2d/sg_gen/`) writes.
#[test]
fn conv2d_sg_wgsl_is_generated() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/shaders/conv2d_sg.wgsl");
    let on_disk = std::fs::read_to_string(path).unwrap_or_default();
    assert!(
        on_disk == cloudfill::ops::conv2d::sg_gen::generate(),
        "shaders/conv2d_sg.wgsl differs from its generator (src/ops/conv2d/sg_gen/): run \
         `cargo xtask gen-shaders`"
    );
}
