// noise.wgsl — the per-step input: out[i] = latent[i] + sigma · z(seed, step, i), z ~ N(0, 1).
// z comes from a counter-based RNG: Philox-2x32-10 with key = seed and counter = (i / 2, step)
// gives two u32 (x0, x1) → u_k = ((x_k >> 8) + 1) · 2⁻²⁴ in (0, 1] (exact in f32) → Box–Muller
// r = sqrt(−2 ln u0), θ = π(2 u1 − 1) ∈ (−π, π] (where WGSL's cos/sin are accurate):
// z = r cos θ for even i, r sin θ for odd i. Every step gets fresh noise; a run reproduces bit
// for bit on one adapter. Batched latents (G networks' inputs, each `per` elements, a multiple of
// 4): the index counts within a network (i mod per) and network k draws with key keys[k] (its
// seed), so every network draws the noise a run of its own would. Flat over any layout, as vec4s (i4 < n4);
// lanes past n copy the latent. Rust side and CPU reference (same integers): src/ops/noise.rs;
// tests: tests/it/ops/noise.rs.
override WG: u32 = 256u;

// per4: vec4s per network (the index wraps there).
struct Params { n: u32, sigma: f32, step: u32, per4: u32 }

@group(0) @binding(0) var<storage, read> latent: array<vec4<f32>>;
@group(0) @binding(1) var<storage, read> keys: array<u32>;
@group(0) @binding(2) var<storage, read_write> out: array<vec4<f32>>;
@group(0) @binding(3) var<uniform> u: Params;

// High 32 bits of a·b (32×32 → 64) from 16-bit halves.
fn mulhi(a: u32, b: u32) -> u32 {
    let al = a & 0xFFFFu; let ah = a >> 16u;
    let bl = b & 0xFFFFu; let bh = b >> 16u;
    let ll = al * bl; let lh = al * bh; let hl = ah * bl; let hh = ah * bh;
    let mid = (ll >> 16u) + (lh & 0xFFFFu) + (hl & 0xFFFFu);
    return hh + (lh >> 16u) + (hl >> 16u) + (mid >> 16u);
}

fn philox2x32(c0: u32, c1: u32, k0: u32) -> vec2<u32> {
    var x = vec2<u32>(c0, c1);
    var k = k0;
    for (var r = 0u; r < 10u; r++) {
        let hi = mulhi(0xD256D193u, x.x);
        let lo = 0xD256D193u * x.x;
        x = vec2<u32>(hi ^ k ^ x.y, lo);
        k += 0x9E3779B9u;
    }
    return x;
}

// Two standard normals for the pair (2j, 2j+1).
fn normal_pair(j: u32, key: u32) -> vec2<f32> {
    let x = philox2x32(j, u.step, key);
    let uu = (vec2<f32>(x >> vec2<u32>(8u)) + 1.0) * (1.0 / 16777216.0);
    let r = sqrt(-2.0 * log(uu.x));
    let th = 3.14159265358979 * (2.0 * uu.y - 1.0);
    return r * vec2<f32>(cos(th), sin(th));
}

@compute @workgroup_size(WG)
fn latent_noise(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
                @builtin(local_invocation_index) lid: u32) {
    let i = (wid.x + wid.y * nwg.x) * WG + lid;
    if (i * 4u >= u.n) { return; }
    let il = i % u.per4;
    let key = keys[i / u.per4];
    let z = vec4<f32>(normal_pair(2u * il, key), normal_pair(2u * il + 1u, key));
    let valid = (vec4<u32>(i * 4u) + vec4<u32>(0u, 1u, 2u, 3u)) < vec4<u32>(u.n);
    out[i] = latent[i] + select(vec4<f32>(0.0), u.sigma * z, valid);
}
