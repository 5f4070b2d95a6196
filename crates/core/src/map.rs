//! Map planning: which inputs are mapped, zip or product, how many items, and which
//! list element each item reads.

use std::fmt;
use std::str::FromStr;

use crate::error::{Error, Result};

/// How the lists of a map are combined into items.
///
/// # Examples
///
/// ```
/// use hypernodes::MapMode;
///
/// assert_eq!("product".parse::<MapMode>()?, MapMode::Product);
/// assert_eq!(MapMode::Zip.to_string(), "zip");
/// assert_eq!("cross".parse::<MapMode>().unwrap_err().to_string(), "Unknown map mode 'cross'. Valid modes: zip, product");
/// # Ok::<(), hypernodes::Error>(())
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum MapMode {
    /// Item i takes element i of every list; the lists must have equal lengths.
    #[default]
    Zip,
    /// Every combination of elements; the first list is the outer loop.
    Product,
}

impl FromStr for MapMode {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self> {
        match s {
            "zip" => Ok(MapMode::Zip),
            "product" => Ok(MapMode::Product),
            _ => Err(Error::UnknownMapMode { mode: s.into() }),
        }
    }
}

impl fmt::Display for MapMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            MapMode::Zip => "zip",
            MapMode::Product => "product",
        })
    }
}

impl MapMode {
    /// Calls `f(k, j)` for each of `lists` lists (list `k` of length `len(k)`) with the
    /// index `j` of its element that item `item` reads: zip reads element `item` of every
    /// list; product counts in mixed radix, the last list fastest, so the first list is
    /// the outer loop.
    #[inline]
    #[doc(hidden)]
    pub fn for_each_element(
        self,
        lists: usize,
        len: impl Fn(usize) -> usize,
        item: usize,
        mut f: impl FnMut(usize, usize),
    ) {
        match self {
            MapMode::Zip => (0..lists).for_each(|k| f(k, item)),
            MapMode::Product => {
                let mut rest = item;
                for k in (0..lists).rev() {
                    f(k, rest % len(k));
                    rest /= len(k);
                }
            }
        }
    }
}

/// A map mode given as [`MapMode`] or by name (`"zip"`, `"product"`).
pub trait AsMapMode {
    /// The mode.
    ///
    /// # Errors
    ///
    /// [`Error::UnknownMapMode`] for an unknown name.
    fn as_map_mode(&self) -> Result<MapMode>;
}

impl AsMapMode for MapMode {
    fn as_map_mode(&self) -> Result<MapMode> {
        Ok(*self)
    }
}

impl AsMapMode for &str {
    fn as_map_mode(&self) -> Result<MapMode> {
        self.parse()
    }
}
