//! What the callbacks of a nested pipeline node see of a columnar run: the run's
//! columns its arguments or outputs are, over every row ([`Columns`]).

use std::any::Any;

use super::Run;
use crate::columnar::col::Col;
use crate::columnar::data::repeat;
use crate::columnar::types::{ColumnType, Elements};
use crate::events::Batch;
use crate::node::Port;
use crate::value::Value;

/// The columns of a run, by the names of the ports a [`NodeData`](crate::events::NodeData)
/// shows.
pub(super) struct Columns<'a, 'p>(pub(super) &'a Run<'p>);

impl Batch for Columns<'_, '_> {
    fn rows(&self) -> usize {
        self.0.rows
    }

    fn holds(&self, _k: usize, port: &Port) -> bool {
        self.0.cols.contains_key(port.name())
    }

    fn value(&self, _k: usize, port: &Port, row: usize) -> Option<Value> {
        self.0.cols.get(port.name())?;
        self.0.value_at(port.name(), row)
    }

    fn column(&self, _k: usize, port: &Port) -> Option<Box<dyn Any>> {
        let column = match self.0.cols.get(port.name())? {
            Col::Arrow(chunks, _) => chunks.concat().ok()?,
            Col::Const(v) => repeat(&(ColumnType::find(&port.type_info())?.value_to_array)(v)?, self.0.rows)?,
            Col::List { list, index, .. } => {
                let elements = match index {
                    Some(ix) => Elements::At(ix),
                    None => Elements::Range(0..self.0.rows),
                };
                (ColumnType::find(&port.type_info())?.list_rows_to_array)(list, elements)?
            }
        };
        Some(Box::new(column))
    }
}
