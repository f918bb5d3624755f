// activation.wgsl — not a kernel family: the activations shared by elementwise.wgsl and
// batchnorm.wgsl (the fused batch-norm + activation), prepended to both when they are loaded
// (`Shader::source`), so f and f' are written once.
//   f = ACT: 0 none, 1 leaky_relu(SLOPE), 2 swish x·σ(x), 3 elu(1), 4 sigmoid σ(x);
//   act_grad(x, y) = f'(x) given y = f(x). CPU reference: src/ops/elementwise.rs.
override ACT: u32 = 0u;
override SLOPE: f32 = 0.2;

fn sigm(x: vec4<f32>) -> vec4<f32> { return 1.0 / (1.0 + exp(-x)); }

fn act(x: vec4<f32>) -> vec4<f32> {
    switch ACT {
        case 1u: { return select(SLOPE * x, x, x > vec4<f32>(0.0)); }
        case 2u: { return x * sigm(x); }
        case 3u: { return select(exp(min(x, vec4<f32>(0.0))) - 1.0, x, x > vec4<f32>(0.0)); }
        case 4u: { return sigm(x); }
        default: { return x; }
    }
}

// f'(x), given x and y = f(x).
fn act_grad(x: vec4<f32>, y: vec4<f32>) -> vec4<f32> {
    let one = vec4<f32>(1.0);
    switch ACT {
        case 1u: { return select(vec4<f32>(SLOPE), one, x > vec4<f32>(0.0)); }
        case 2u: { let s = sigm(x); return s + x * s * (one - s); }
        case 3u: { return select(exp(min(x, vec4<f32>(0.0))), one, x > vec4<f32>(0.0)); }
        case 4u: { return y * (one - y); }
        default: { return one; }
    }
}
