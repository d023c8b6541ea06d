//! crossview-stages
