fn main() -> anyhow::Result<()> {
    let gpu = cloudfill::Gpu::new()?;
    println!("adapter: {}", gpu.summary());
    Ok(())
}
