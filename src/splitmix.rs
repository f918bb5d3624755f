//! SplitMix64: the small seeded generator behind parameter initialisation, the `noise` latent
//! and the synthetic scene (the GPU's latent noise is Philox, in `ops/noise.rs`).

/// A SplitMix64 stream.
#[derive(Clone, Debug)]
pub struct SplitMix(u64);

impl SplitMix {
    /// The stream of a user seed (mixed with a constant, so seed 0 is an ordinary state).
    pub fn new(seed: u64) -> SplitMix {
        SplitMix::from_state(seed ^ 0x5DEE_CE66_D1CE_4E5B)
    }

    /// The stream that starts from `state` as it is.
    pub fn from_state(state: u64) -> SplitMix {
        SplitMix(state)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in [0, 1) with 24 bits.
    pub fn unit(&mut self) -> f32 {
        (self.next_u64() >> 40) as f32 / (1u64 << 24) as f32
    }

    /// Uniform in [0, 1) with 53 bits.
    pub fn unit_f64(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }
}
