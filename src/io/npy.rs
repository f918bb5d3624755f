//! NumPy `.npy` files: H×W×C or H×W arrays of f32, f64, bool or (u)int 8/16/32/64, in C or
//! Fortran order, read as f32; written as f32 (H, W, C), C order.
use super::{file_err, write_atomic, Image};
use crate::error::{Error, Result};
use npyz::{DType, Order, TypeChar, WriterBuilder};
use std::io::{BufReader, BufWriter, Write};
use std::path::Path;

/// (columns, rows) of a 2-D or 3-D `.npy`, from its header.
pub(super) fn npy_size(path: &Path) -> Result<(usize, usize)> {
    let io_err = |e: std::io::Error| Error::io(path, "cannot read .npy", e);
    let file = std::fs::File::open(path).map_err(io_err)?;
    let header = npyz::NpyHeader::from_reader(BufReader::new(file)).map_err(io_err)?;
    match header.shape()[..] {
        [h, w] | [h, w, _] => Ok((w as usize, h as usize)),
        ref s => Err(file_err(
            path,
            format!("expected a 2-D or 3-D array, got shape {s:?}"),
        )),
    }
}

/// Reads a 2-D (→ C = 1) or 3-D (H, W, C) `.npy` array as an [`Image`].
pub(super) fn read_npy(path: &Path) -> Result<Image> {
    let io_err = |e: std::io::Error| Error::io(path, "cannot read .npy", e);
    let file = std::fs::File::open(path).map_err(io_err)?;
    let npy = npyz::NpyFile::new(BufReader::new(file)).map_err(io_err)?;
    let shape: Vec<usize> = npy.shape().iter().map(|&d| d as usize).collect();
    let (h, w, c) = match shape[..] {
        [h, w] => (h, w, 1),
        [h, w, c] => (h, w, c),
        _ => {
            return Err(file_err(
                path,
                format!("expected a 2-D (H, W) or 3-D (H, W, C) array, got shape {shape:?}"),
            ))
        }
    };
    let order = npy.order();
    let data = read_values(path, npy)?;
    let data = match order {
        Order::C => data,
        Order::Fortran => fortran_to_c(&data, h, w, c),
    };
    Image::new(h, w, c, data)
}

/// All values of the array as f32, whatever their dtype.
fn read_values<R: std::io::Read>(path: &Path, npy: npyz::NpyFile<R>) -> Result<Vec<f32>> {
    let dtype = npy.dtype();
    let unsupported = || {
        file_err(
            path,
            format!(
                "unsupported .npy dtype {}: use float32/64, bool or (u)int8/16/32/64",
                dtype.descr()
            ),
        )
    };
    let DType::Plain(ts) = &dtype else {
        return Err(unsupported());
    };
    let io_err = |e: std::io::Error| Error::io(path, "cannot read .npy data", e);
    macro_rules! read_as {
        ($t:ty) => {
            npy.into_vec::<$t>()
                .map_err(io_err)?
                .into_iter()
                .map(|v| v as f32)
                .collect()
        };
    }
    Ok(match (ts.type_char(), ts.size_field()) {
        (TypeChar::Float, 4) => npy.into_vec::<f32>().map_err(io_err)?,
        (TypeChar::Float, 8) => read_as!(f64),
        (TypeChar::Bool, 1) => npy
            .into_vec::<bool>()
            .map_err(io_err)?
            .into_iter()
            .map(f32::from)
            .collect(),
        (TypeChar::Uint, 1) => read_as!(u8),
        (TypeChar::Int, 1) => read_as!(i8),
        (TypeChar::Uint, 2) => read_as!(u16),
        (TypeChar::Int, 2) => read_as!(i16),
        (TypeChar::Uint, 4) => read_as!(u32),
        (TypeChar::Int, 4) => read_as!(i32),
        (TypeChar::Uint, 8) => read_as!(u64),
        (TypeChar::Int, 8) => read_as!(i64),
        _ => return Err(unsupported()),
    })
}

/// Fortran order (index `y + h·(x + w·ch)`) → C order H×W×C.
fn fortran_to_c(data: &[f32], h: usize, w: usize, c: usize) -> Vec<f32> {
    let mut out = vec![0f32; data.len()];
    for ch in 0..c {
        for x in 0..w {
            for y in 0..h {
                out[(y * w + x) * c + ch] = data[y + h * (x + w * ch)];
            }
        }
    }
    out
}

/// Writes `img` as a float32 `.npy` of shape (H, W, C), C order, atomically.
pub fn write_npy(path: &Path, img: &Image) -> Result<()> {
    if img.data.len() != img.h * img.w * img.c {
        return Err(file_err(path, "image data length does not match its shape"));
    }
    write_atomic(path, |tmp| {
        let io_err = |e: std::io::Error| Error::io(path, "cannot write .npy", e);
        let mut out = BufWriter::new(std::fs::File::create(tmp).map_err(io_err)?);
        let shape = [img.h as u64, img.w as u64, img.c as u64];
        let mut writer = npyz::WriteOptions::<f32>::new()
            .default_dtype()
            .shape(&shape)
            .writer(&mut out)
            .begin_nd()
            .map_err(io_err)?;
        writer.extend(img.data.iter().copied()).map_err(io_err)?;
        writer.finish().map_err(io_err)?;
        out.flush().map_err(io_err)?;
        out.into_inner()
            .map_err(|e| io_err(e.into_error()))?
            .sync_all()
            .map_err(io_err)
    })
}
