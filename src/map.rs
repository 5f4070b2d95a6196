//! Map planning: which inputs are mapped, zip or product, how many items, and which
//! list element each item reads.

use std::fmt;
use std::str::FromStr;
use std::sync::Arc;

use crate::error::{closest, Error, Result};
use crate::inputs::Inputs;
use crate::pipeline::{Pipeline, RunPlan};
use crate::value::{TypeInfo, Value};

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
    pub(crate) fn for_each_element(
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

/// One mapped input: the list value, its length and its element type.
#[derive(Clone, Debug)]
pub struct MappedInput {
    name: String,
    list: Arc<Value>,
    len: usize,
    elem: fn() -> TypeInfo,
}

impl MappedInput {
    /// The input's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The list's length.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether the list is empty.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The whole list (a `Vec` of the element type).
    pub fn list(&self) -> &Value {
        &self.list
    }

    /// Element `index` of the list, as a view that copies nothing.
    pub fn element(&self, index: usize) -> Value {
        Value::item(self.list.clone(), index, self.elem)
    }
}

/// What one map will do: a [`RunPlan`] plus the mapped lists and the item count.
#[derive(Clone, Debug)]
pub struct MapPlan {
    run: RunPlan,
    over: Vec<MappedInput>,
    mode: MapMode,
    len: usize,
}

impl MapPlan {
    pub(crate) fn new(
        pipeline: &Pipeline,
        inputs: &Inputs,
        over: &[&str],
        mode: MapMode,
        select: Option<&[String]>,
        config: Arc<crate::exec::RunConfig>,
    ) -> Result<MapPlan> {
        if over.is_empty() {
            return Err(Error::EmptyMapOver);
        }
        for (i, name) in over.iter().enumerate() {
            if over[..i].contains(name) {
                return Err(Error::Invalid(format!("map_over names '{name}' twice")));
            }
            if pipeline.input_type(name).is_none() {
                return Err(Error::MapOverNotInput {
                    name: (*name).into(),
                    inputs: pipeline.inputs().iter().map(|s| s.to_string()).collect(),
                    suggestion: closest(name, pipeline.inputs()),
                });
            }
        }
        let run = RunPlan::new(pipeline, inputs, select, over, config)?;
        let mut mapped = Vec::with_capacity(over.len());
        for name in over {
            let elem = pipeline.input_type(name).expect("checked above");
            let value = match inputs.get(name).or_else(|| pipeline.bound_inputs().get(name)) {
                Some(v) => v,
                None => {
                    return Err(Error::MissingInputs {
                        missing: vec![name.to_string()],
                        required: run.inputs().names().chain([*name]).map(String::from).collect(),
                    })
                }
            };
            let len = elem.list_len(value).ok_or_else(|| Error::NotAList {
                input: (*name).into(),
                expected: elem.name().into(),
                found: value.type_name().into(),
            })?;
            mapped.push(MappedInput {
                name: name.to_string(),
                list: Arc::new(value.clone()),
                len,
                elem: elem.this_fn(),
            });
        }
        let len = match mode {
            MapMode::Zip => {
                let first = mapped[0].len;
                if mapped.iter().any(|m| m.len != first) {
                    return Err(Error::ZipLengthMismatch {
                        lengths: mapped.iter().map(|m| (m.name.clone(), m.len)).collect(),
                    });
                }
                first
            }
            MapMode::Product => mapped.iter().map(|m| m.len).product(),
        };
        Ok(MapPlan {
            run,
            over: mapped,
            mode,
            len,
        })
    }

    /// The plan of each item's run (its inputs hold the whole mapped lists).
    pub fn run_plan(&self) -> &RunPlan {
        &self.run
    }

    /// The mapped inputs, in `map_over` order.
    pub fn over(&self) -> &[MappedInput] {
        &self.over
    }

    /// Zip or product.
    pub fn mode(&self) -> MapMode {
        self.mode
    }

    /// The number of items.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether there are no items.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Calls `f(k, j)` for each mapped input `k` with the index `j` of its element that
    /// item `item` reads.
    #[inline]
    pub fn for_each_element(&self, item: usize, f: impl FnMut(usize, usize)) {
        self.mode
            .for_each_element(self.over.len(), |k| self.over[k].len, item, f)
    }
}
