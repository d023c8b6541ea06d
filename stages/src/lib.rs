//! crossview-stages: the work of each data-engine stage as plain functions and types, with no
//! dataflow: sources, masks, geometry, association, QA, filters, split (modules arrive with
//! their issues).

pub use crossview_schemas as schemas;
