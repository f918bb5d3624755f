//! PyTorch golden cases: one fixture format, one loader.
//!
//! The fixtures beside this file keep `../shared/golden/golden_ops.json`'s own layout,
//! `{"meta": {...}, "cases": [{name, op, params, inputs, outputs}]}`, every tensor
//! `{"shape": [...], "data": [...]}` (flat, row-major; images NCHW with N = 1; conv weights
//! (Cout, Cin, kh, kw)), each next to the script that wrote it (run from the repository root):
//! - `ops.json`: the golden_ops.json cases the tests use, copied verbatim by `extract.py`
//!   (`python3 tests/it/golden/extract.py`);
//! - `conv_large.json`: conv cases large enough for the vec4 and subgroup kernels, computed by
//!   `make_conv_large.py` with PyTorch.
//!
//! Inputs are float32-representable and every number has 9 significant digits, so `as f32`
//! ([`Tensor::f32`]) gives an input's exact float32 value. They are compiled in
//! (`include_str!`): a fresh clone needs no `../shared`.
pub(crate) mod conv;
mod trajectory;

use cloudfill::gpu::Shape;
use serde_json::{Map, Value};
use std::collections::BTreeMap;
use std::sync::OnceLock;

/// The fixture files, by name (for messages) and text.
const FIXTURES: &[(&str, &str)] = &[
    ("ops.json", include_str!("ops.json")),
    ("conv_large.json", include_str!("conv_large.json")),
];

/// A golden tensor: its shape and its values, as the fixture prints them.
#[derive(Clone, Debug, PartialEq)]
pub struct Tensor {
    pub shape: Vec<usize>,
    pub data: Vec<f64>,
}

impl Tensor {
    /// The values as f32 (exact for the inputs, which are f32-representable).
    pub fn f32(&self) -> Vec<f32> {
        self.data.iter().map(|&v| v as f32).collect()
    }

    /// An NCHW image with N = 1 as cloudfill's `[C, H, W]` shape.
    pub fn chw(&self) -> Shape {
        match self.shape[..] {
            [1, c, h, w] => Shape::new(c, h, w),
            _ => panic!(
                "golden tensor of shape {:?}: not an NCHW image with N = 1",
                self.shape
            ),
        }
    }
}

/// One golden case: what PyTorch was given (`inputs`, `params`) and what it computed
/// (`outputs`).
pub struct Case {
    pub name: String,
    pub op: String,
    /// The fixture file it came from.
    pub file: &'static str,
    params: Map<String, Value>,
    inputs: Map<String, Value>,
    outputs: Map<String, Value>,
}

/// The case called `name` (every fixture is parsed once, on first use). Panics naming it when
/// no fixture has it.
pub fn case(name: &str) -> &'static Case {
    let cases = all();
    cases.get(name).unwrap_or_else(|| {
        let names: Vec<&String> = cases.keys().collect();
        panic!("no golden case `{name}` (tests/it/golden has {names:?})")
    })
}

/// Every case of every fixture, by name.
fn all() -> &'static BTreeMap<String, Case> {
    static CASES: OnceLock<BTreeMap<String, Case>> = OnceLock::new();
    CASES.get_or_init(|| {
        let mut cases = BTreeMap::new();
        for &(file, text) in FIXTURES {
            let doc: Value = serde_json::from_str(text)
                .unwrap_or_else(|e| panic!("golden fixture {file}: not JSON: {e}"));
            let list = doc["cases"]
                .as_array()
                .unwrap_or_else(|| panic!("golden fixture {file}: no \"cases\" list"));
            for c in list {
                let c = Case::parse(file, c);
                let name = c.name.clone();
                if let Some(old) = cases.insert(name.clone(), c) {
                    panic!("golden case `{name}` is in both {} and {file}", old.file);
                }
            }
        }
        cases
    })
}

/// The map under `key` of a case object, or a panic naming the case.
fn object(file: &str, name: &str, c: &Value, key: &str) -> Map<String, Value> {
    c[key]
        .as_object()
        .cloned()
        .unwrap_or_else(|| panic!("golden case `{name}` ({file}): no \"{key}\" object"))
}

impl Case {
    fn parse(file: &'static str, c: &Value) -> Case {
        let name = c["name"]
            .as_str()
            .unwrap_or_else(|| panic!("golden fixture {file}: a case without a \"name\" string"));
        let name = name.to_string();
        let text = |key: &str| {
            c[key]
                .as_str()
                .map(str::to_string)
                .unwrap_or_else(|| panic!("golden case `{name}` ({file}): no \"{key}\" string"))
        };
        Case {
            op: text("op"),
            file,
            params: object(file, &name, c, "params"),
            inputs: object(file, &name, c, "inputs"),
            outputs: object(file, &name, c, "outputs"),
            name,
        }
    }

    /// The input tensor `name`.
    pub fn input(&self, name: &str) -> Tensor {
        self.tensor("input", self.entry("input", &self.inputs, name), name)
    }

    /// The output tensor `name`.
    pub fn output(&self, name: &str) -> Tensor {
        self.tensor("output", self.entry("output", &self.outputs, name), name)
    }

    /// The input `name`, a list of tensors (e.g. one gradient per Adam step).
    pub fn input_list(&self, name: &str) -> Vec<Tensor> {
        self.list("input", self.entry("input", &self.inputs, name), name)
    }

    /// The output `name`, a list of tensors (e.g. the parameters after each Adam step).
    pub fn output_list(&self, name: &str) -> Vec<Tensor> {
        self.list("output", self.entry("output", &self.outputs, name), name)
    }

    /// The input `name`, tensors by name (e.g. a network's parameters).
    pub fn input_map(&self, name: &str) -> BTreeMap<String, Tensor> {
        self.map("input", self.entry("input", &self.inputs, name), name)
    }

    /// The output `name`, tensors by name (e.g. every parameter's gradient).
    pub fn output_map(&self, name: &str) -> BTreeMap<String, Tensor> {
        self.map("output", self.entry("output", &self.outputs, name), name)
    }

    /// The scalar output `name` (e.g. a loss).
    pub fn output_f64(&self, name: &str) -> f64 {
        let v = self.entry("output", &self.outputs, name);
        v.as_f64()
            .unwrap_or_else(|| self.fail(&format!("output `{name}` is not a number: {v}")))
    }

    /// The number parameter `name`.
    pub fn param_f64(&self, name: &str) -> f64 {
        let v = self.entry("param", &self.params, name);
        v.as_f64()
            .unwrap_or_else(|| self.fail(&format!("param `{name}` is not a number: {v}")))
    }

    /// The non-negative integer parameter `name`.
    pub fn param_usize(&self, name: &str) -> usize {
        let v = self.entry("param", &self.params, name);
        v.as_u64()
            .and_then(|n| usize::try_from(n).ok())
            .unwrap_or_else(|| self.fail(&format!("param `{name}` is not a count: {v}")))
    }

    /// The string parameter `name`.
    pub fn param_str(&self, name: &str) -> &str {
        let v = self.entry("param", &self.params, name);
        v.as_str()
            .unwrap_or_else(|| self.fail(&format!("param `{name}` is not a string: {v}")))
    }

    /// The boolean parameter `name`.
    pub fn param_bool(&self, name: &str) -> bool {
        let v = self.entry("param", &self.params, name);
        v.as_bool()
            .unwrap_or_else(|| self.fail(&format!("param `{name}` is not a boolean: {v}")))
    }

    fn fail(&self, what: &str) -> ! {
        panic!("golden case `{}` ({}): {what}", self.name, self.file)
    }

    fn entry<'a>(&self, kind: &str, map: &'a Map<String, Value>, name: &str) -> &'a Value {
        map.get(name).unwrap_or_else(|| {
            let have: Vec<&String> = map.keys().collect();
            self.fail(&format!("no {kind} `{name}` (its {kind}s: {have:?})"))
        })
    }

    /// `v` as a tensor; `what` names it in messages.
    fn tensor(&self, kind: &str, v: &Value, what: &str) -> Tensor {
        let bad = |why: &str| -> ! { self.fail(&format!("{kind} `{what}`: {why}")) };
        let (Some(shape), Some(data)) = (v["shape"].as_array(), v["data"].as_array()) else {
            bad("not a {\"shape\", \"data\"} tensor")
        };
        let shape: Vec<usize> = shape
            .iter()
            .map(|d| {
                d.as_u64()
                    .unwrap_or_else(|| bad(&format!("shape entry {d}"))) as usize
            })
            .collect();
        let data: Vec<f64> = data
            .iter()
            .map(|x| x.as_f64().unwrap_or_else(|| bad(&format!("value {x}"))))
            .collect();
        let numel: usize = shape.iter().product();
        if data.len() != numel {
            bad(&format!("{} values for shape {shape:?}", data.len()));
        }
        Tensor { shape, data }
    }

    fn list(&self, kind: &str, v: &Value, name: &str) -> Vec<Tensor> {
        let items = v
            .as_array()
            .unwrap_or_else(|| self.fail(&format!("{kind} `{name}` is not a list")));
        let at = |i: usize| format!("{name}[{i}]");
        items
            .iter()
            .enumerate()
            .map(|(i, t)| self.tensor(kind, t, &at(i)))
            .collect()
    }

    fn map(&self, kind: &str, v: &Value, name: &str) -> BTreeMap<String, Tensor> {
        let items = v
            .as_object()
            .unwrap_or_else(|| self.fail(&format!("{kind} `{name}` is not an object")));
        items
            .iter()
            .map(|(k, t)| (k.clone(), self.tensor(kind, t, &format!("{name}.{k}"))))
            .collect()
    }
}

/// Every case of every fixture parses (each input and output a number, a tensor whose data fits
/// its shape, or a list or map of them), and a missing case or tensor is named.
#[test]
fn golden_fixtures_parse_and_name_what_is_missing() {
    for c in all().values() {
        for (kind, entries) in [("input", &c.inputs), ("output", &c.outputs)] {
            for (name, v) in entries {
                match v {
                    Value::Number(_) => {}
                    Value::Array(_) => assert!(!c.list(kind, v, name).is_empty()),
                    Value::Object(o) if o.contains_key("shape") => drop(c.tensor(kind, v, name)),
                    Value::Object(_) => assert!(!c.map(kind, v, name).is_empty()),
                    _ => c.fail(&format!("{kind} `{name}`: {v}")),
                }
            }
        }
    }
    assert_eq!(
        all().len(),
        18,
        "16 cases of golden_ops.json and 2 of conv_large.json"
    );
    let c = case("conv3x3_s1_p1");
    assert_eq!((c.op.as_str(), c.file), ("conv2d", "ops.json"));
    assert_eq!(c.input("x").chw(), Shape::new(3, 7, 7));
    assert_eq!(c.param_usize("stride"), 1);
    assert_eq!(c.param_str("padding_mode"), "zeros");
    let large = case("conv3x3_s1_p1_16to16_32x32");
    assert_eq!(large.file, "conv_large.json");
    let panics = |f: fn()| {
        let e = std::panic::catch_unwind(f).unwrap_err();
        e.downcast_ref::<String>().cloned().unwrap_or_default()
    };
    let msg = panics(|| {
        let _ = case("conv3x3_s1_p1").output("nope");
    });
    assert!(
        msg.contains("conv3x3_s1_p1") && msg.contains("nope"),
        "{msg}"
    );
    assert!(msg.contains("\"dx\""), "names what it has: {msg}");
    let msg = panics(|| {
        let _ = case("no_such_case");
    });
    assert!(msg.contains("no_such_case"), "{msg}");
    let msg = panics(|| {
        let _ = case("adam_3_steps").param_usize("lr");
    });
    assert!(msg.contains("adam_3_steps") && msg.contains("lr"), "{msg}");
}
