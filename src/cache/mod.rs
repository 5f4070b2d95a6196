//! The result cache: results of nodes stored by content-addressed keys.

pub mod disk;
