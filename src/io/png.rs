//! PNG: reading 8/16-bit gray, gray+alpha, RGB(A) or palette images (raw sample values as f32,
//! palette expanded to RGB); writing 8-bit RGB previews.
use super::{file_err, write_atomic, Image};
use crate::error::Result;
use png::{BitDepth, ColorType, Transformations};
use std::io::{BufReader, BufWriter, Write};
use std::path::Path;

/// (columns, rows) of a PNG, from its header.
pub(super) fn png_size(path: &Path) -> Result<(usize, usize)> {
    let err = |e: &dyn std::fmt::Display| file_err(path, format!("cannot read PNG: {e}"));
    let file = std::fs::File::open(path).map_err(|e| err(&e))?;
    let reader = png::Decoder::new(BufReader::new(file))
        .read_info()
        .map_err(|e| err(&e))?;
    let info = reader.info();
    Ok((info.width as usize, info.height as usize))
}

/// Reads a PNG as an [`Image`] with the PNG's channels (gray 1, gray+alpha 2, RGB 3, RGBA 4),
/// values 0..=255 (8-bit) or 0..=65535 (16-bit).
pub(super) fn read_png(path: &Path) -> Result<Image> {
    let err = |e: &dyn std::fmt::Display| file_err(path, format!("cannot read PNG: {e}"));
    let file = std::fs::File::open(path).map_err(|e| err(&e))?;
    let mut decoder = png::Decoder::new(BufReader::new(file));
    decoder.set_transformations(Transformations::EXPAND);
    let mut reader = decoder.read_info().map_err(|e| err(&e))?;
    let mut buf = vec![0u8; reader.output_buffer_size()];
    let info = reader.next_frame(&mut buf).map_err(|e| err(&e))?;
    let c = info.color_type.samples();
    let (h, w) = (info.height as usize, info.width as usize);
    let mut data = Vec::with_capacity(h * w * c);
    for row in buf.chunks_exact(info.line_size).take(h) {
        match info.bit_depth {
            BitDepth::Sixteen => data.extend(
                row[..w * c * 2]
                    .chunks_exact(2)
                    .map(|b| f32::from(u16::from_be_bytes([b[0], b[1]]))),
            ),
            BitDepth::Eight => data.extend(row[..w * c].iter().map(|&v| f32::from(v))),
            other => {
                return Err(file_err(
                    path,
                    format!("unexpected PNG bit depth {other:?}"),
                ))
            }
        }
    }
    Image::new(h, w, c, data)
}

/// Writes an 8-bit RGB PNG (`rgb` is H×W×3, row-major), atomically.
pub fn write_png_rgb(path: &Path, rgb: &[u8], h: usize, w: usize) -> Result<()> {
    if rgb.len() != h * w * 3 || h == 0 || w == 0 {
        return Err(file_err(
            path,
            format!(
                "RGB buffer of {} bytes does not hold a non-empty {h}×{w}×3 image",
                rgb.len()
            ),
        ));
    }
    let (w32, h32) = (u32::try_from(w), u32::try_from(h));
    let (Ok(w32), Ok(h32)) = (w32, h32) else {
        return Err(file_err(path, format!("{h}×{w} is too large for PNG")));
    };
    write_atomic(path, |tmp| {
        let err = |e: &dyn std::fmt::Display| file_err(path, format!("cannot write PNG: {e}"));
        let file = std::fs::File::create(tmp).map_err(|e| err(&e))?;
        let mut out = BufWriter::new(file);
        let mut enc = png::Encoder::new(&mut out, w32, h32);
        enc.set_color(ColorType::Rgb);
        enc.set_depth(BitDepth::Eight);
        let mut writer = enc.write_header().map_err(|e| err(&e))?;
        writer.write_image_data(rgb).map_err(|e| err(&e))?;
        writer.finish().map_err(|e| err(&e))?;
        out.flush().map_err(|e| err(&e))?;
        let file = out.into_inner().map_err(|e| err(&e.into_error()))?;
        file.sync_all().map_err(|e| err(&e))
    })
}
