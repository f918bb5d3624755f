//! The tile grid over a W×H raster and the blending weights of its tiles.
//!
//! Along each axis of length `n`, tiles of size `t` start every `t − overlap` pixels; the last
//! tile is shifted inward to end at `n`, so every tile is full size (an axis shorter than `t` is
//! one tile of length `n`). Neighbours therefore overlap by at least `overlap` pixels.
//!
//! Weights are separable: `w(y, x) = wy(y) · wx(x)`. Along an axis a tile's weight is 1, except
//! within `overlap` pixels of an edge shared with a neighbour (never at the raster's border),
//! where it rises as a raised cosine `½ − ½·cos(π (d + ½) / overlap)`, d = distance to that edge.
//! It is never 0, and where two tiles overlap by exactly `overlap` their weights sum to 1. A pixel
//! covered by one tile only has weight exactly 1, so there the blend `Σ w·v / Σ w` is that
//! tile's value, bit for bit.
use crate::error::{Error, Result};

/// One tile: its place in the grid and its window in the raster (pixels).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TileRect {
    /// Row-major index `row * cols + col`.
    pub index: usize,
    pub row: usize,
    pub col: usize,
    /// Column and row of the top-left pixel.
    pub x0: usize,
    pub y0: usize,
    pub w: usize,
    pub h: usize,
}

/// A tile grid over a `width × height` raster.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Grid {
    pub width: usize,
    pub height: usize,
    pub tile: usize,
    pub overlap: usize,
    xs: Vec<usize>,
    ys: Vec<usize>,
}

/// Tile starts along an axis of length `n`.
fn starts(n: usize, tile: usize, overlap: usize) -> Vec<usize> {
    if n <= tile {
        return vec![0];
    }
    let stride = tile - overlap;
    let k = (n - tile).div_ceil(stride) + 1;
    let mut v: Vec<usize> = (0..k - 1).map(|i| i * stride).collect();
    v.push(n - tile);
    v
}

impl Grid {
    /// `tile` must be a positive multiple of 16 and `overlap < tile / 2`.
    pub fn new(width: usize, height: usize, tile: usize, overlap: usize) -> Result<Grid> {
        if tile == 0 || tile % 16 != 0 {
            return Err(Error::invalid(
                "tile size",
                format!("{tile} is not a positive multiple of 16 (256 is a good choice)"),
            ));
        }
        if 2 * overlap >= tile {
            return Err(Error::invalid(
                "overlap",
                format!("{overlap} must be less than half the tile size {tile}"),
            ));
        }
        if width == 0 || height == 0 {
            return Err(Error::invalid("raster", "empty raster"));
        }
        Ok(Grid {
            width,
            height,
            tile,
            overlap,
            xs: starts(width, tile, overlap),
            ys: starts(height, tile, overlap),
        })
    }

    pub fn rows(&self) -> usize {
        self.ys.len()
    }

    pub fn cols(&self) -> usize {
        self.xs.len()
    }

    /// Number of tiles.
    pub fn len(&self) -> usize {
        self.rows() * self.cols()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Tile `index` (row-major); panics when out of range.
    pub fn tile(&self, index: usize) -> TileRect {
        assert!(index < self.len(), "tile index out of range");
        let (row, col) = (index / self.cols(), index % self.cols());
        TileRect {
            index,
            row,
            col,
            x0: self.xs[col],
            y0: self.ys[row],
            w: self.tile.min(self.width),
            h: self.tile.min(self.height),
        }
    }

    /// Every tile, row-major.
    pub fn tiles(&self) -> impl Iterator<Item = TileRect> + '_ {
        (0..self.len()).map(|i| self.tile(i))
    }

    /// Weights along x of the tiles in column `col` (length = tile width).
    pub fn weights_x(&self, col: usize) -> Vec<f32> {
        axis_weights(&self.xs, col, self.tile.min(self.width), self.overlap)
    }

    /// Weights along y of the tiles in row `row` (length = tile height).
    pub fn weights_y(&self, row: usize) -> Vec<f32> {
        axis_weights(&self.ys, row, self.tile.min(self.height), self.overlap)
    }

    /// How many tiles cover pixel (`y`, `x`).
    pub fn coverage(&self, y: usize, x: usize) -> usize {
        let inside = |s: &[usize], len: usize, p: usize| {
            s.iter().filter(|&&a| a <= p && p < a + len).count()
        };
        inside(&self.ys, self.tile.min(self.height), y)
            * inside(&self.xs, self.tile.min(self.width), x)
    }
}

fn axis_weights(starts: &[usize], i: usize, len: usize, overlap: usize) -> Vec<f32> {
    let ramp = |d: usize| -> f32 {
        if d >= overlap {
            1.0
        } else {
            let t = std::f64::consts::PI * (d as f64 + 0.5) / overlap as f64;
            (0.5 - 0.5 * t.cos()) as f32
        }
    };
    let (left, right) = (i > 0, i + 1 < starts.len());
    (0..len)
        .map(|p| {
            let l = if left { ramp(p) } else { 1.0 };
            let r = if right { ramp(len - 1 - p) } else { 1.0 };
            l.min(r)
        })
        .collect()
}
