//! A fit's parameters as named arrays, in the reference's (PyTorch's `state_dict`) naming and
//! layout: warm starts, checkpoints, and importing a PyTorch network's initial weights.
use super::Dip;
use crate::error::{Error, Result};

/// One parameter tensor: its PyTorch name (`down1.0.weight`, `bn_u1.5.bias`, `final.weight`,
/// …), its PyTorch shape (`[cout, cin, k, k]` for conv weights) and its values in row-major
/// order.
#[derive(Clone, Debug, PartialEq)]
pub struct NamedParam {
    pub name: String,
    pub shape: Vec<usize>,
    pub data: Vec<f32>,
}

impl Dip<'_> {
    /// The network's parameters, in the order the network creates them (level by level; the
    /// reference's `named_parameters()` lists the same set by module kind); an ensemble's first
    /// member's. Builds the network if needed (after [`Dip::set_target`]).
    pub fn parameters(&mut self) -> Result<Vec<NamedParam>> {
        self.ensure_built()?;
        let plan = self.plan.as_ref().expect("built above");
        (plan.tape.params.iter())
            .map(|info| {
                let mut data = plan.read_param(&info.name)?;
                data.truncate(info.shape.numel());
                Ok(NamedParam {
                    name: info.name.clone(),
                    shape: info.dims.clone(),
                    data,
                })
            })
            .collect()
    }

    /// Overwrites the named parameters (the others keep their values, e.g. the seeded
    /// initialisation; every member of an ensemble gets the same values). Every name must be one of [`Dip::parameters`]' and every shape must
    /// match; nothing is written unless all do. Builds the network if needed (after
    /// [`Dip::set_target`]); the values are kept and written again if a later `set_target` or
    /// `set_mask` rebuilds it, so they survive until the next `set_parameters`.
    pub fn set_parameters(&mut self, params: &[NamedParam]) -> Result<()> {
        self.ensure_built()?;
        let plan = self.plan.as_ref().expect("built above");
        for p in params {
            let info = (plan.tape.params.iter())
                .find(|i| i.name == p.name)
                .ok_or_else(|| {
                    let names: Vec<&str> = plan.tape.params.iter().map(|i| &*i.name).collect();
                    Error::invalid(
                        "parameter",
                        format!(
                            "this network has no parameter named {:?} (it has {} parameters: {} … {})",
                            p.name,
                            names.len(),
                            names.first().unwrap_or(&""),
                            names.last().unwrap_or(&""),
                        ),
                    )
                })?;
            if info.dims != p.shape {
                return Err(Error::shape(
                    format!("parameter {} shape", p.name),
                    &info.dims,
                    &p.shape,
                ));
            }
            let n: usize = p.shape.iter().product();
            if p.data.len() != n {
                return Err(Error::shape(
                    format!("parameter {} values", p.name),
                    n,
                    p.data.len(),
                ));
            }
        }
        self.init_params = params.to_vec();
        self.write_init_params()
    }

    /// Writes the parameters given to [`Dip::set_parameters`] into the built plan.
    pub(super) fn write_init_params(&self) -> Result<()> {
        let plan = self.plan.as_ref().expect("called with a built plan");
        for p in &self.init_params {
            plan.set_param(&p.name, &p.data.repeat(plan.batch))?;
        }
        Ok(())
    }
}
