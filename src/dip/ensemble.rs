//! An ensemble's result: the per-element mean of its members' outputs, and their spread (the
//! population standard deviation, numpy's `std(axis=0)`) as the uncertainty.

/// (mean, standard deviation) over `members` of equal length, element by element, in f64. One
/// member is its own mean (the same bits) with zero spread.
pub fn mean_std(members: &[&[f32]]) -> (Vec<f32>, Vec<f32>) {
    let n = members.first().map_or(0, |m| m.len());
    if members.len() == 1 {
        return (members[0].to_vec(), vec![0.0; n]);
    }
    let k = members.len() as f64;
    let mut mean = Vec::with_capacity(n);
    let mut std = Vec::with_capacity(n);
    for i in 0..n {
        let m = members.iter().map(|o| o[i] as f64).sum::<f64>() / k;
        let v = members
            .iter()
            .map(|o| (o[i] as f64 - m).powi(2))
            .sum::<f64>()
            / k;
        mean.push(m as f32);
        std.push(v.sqrt() as f32);
    }
    (mean, std)
}
