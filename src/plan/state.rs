//! A plan's training state, to stop a fit and go on with it later bit for bit: the parameters,
//! Adam's moments (m, v) and the step count. The step is all there is of the rest: Adam's bias
//! correction and the latent noise (keyed by seed, step and index, see [`crate::ops::noise`])
//! are functions of it, and every other buffer (activations, gradients, the loss) is rewritten
//! by each step before it is read.
use super::Plan;
use crate::error::{Error, Result};

/// What [`Plan::state`] reads and [`Plan::restore`] writes back. The three arrays are the whole
/// flat arenas (every network of a batch, alignment gaps included), so a restored plan is the
/// saved one bit for bit.
#[derive(Clone, Debug, PartialEq)]
pub struct PlanState {
    /// Steps taken.
    pub step: u32,
    pub params: Vec<f32>,
    /// Adam's first moments.
    pub m: Vec<f32>,
    /// Adam's second moments.
    pub v: Vec<f32>,
}

impl Plan<'_> {
    /// Reads the training state back (waits for queued steps).
    pub fn state(&self) -> Result<PlanState> {
        let (m, v) = &self._moments;
        Ok(PlanState {
            step: self.step,
            params: self.compiled.params.all().read(self.gpu)?,
            m: m.all().read(self.gpu)?,
            v: v.all().read(self.gpu)?,
        })
    }

    /// Writes `s` back: the next [`Plan::step`] is the one the saved plan would have taken. `s`
    /// must come from a plan of the same network, size and batch (its arrays' lengths are
    /// checked; the network itself is the caller's to check, e.g. [`crate::dip::Checkpoint`]).
    pub fn restore(&mut self, s: &PlanState) -> Result<()> {
        let n = self.n_params;
        for (what, got) in [("parameters", &s.params), ("m", &s.m), ("v", &s.v)] {
            if got.len() != n {
                return Err(Error::shape(
                    format!("saved training state ({what}): values of this network"),
                    n,
                    got.len(),
                ));
            }
        }
        let (m, v) = &self._moments;
        self.compiled.params.all().write(self.gpu, &s.params)?;
        m.all().write(self.gpu, &s.m)?;
        v.all().write(self.gpu, &s.v)?;
        self.step = s.step;
        Ok(())
    }
}
