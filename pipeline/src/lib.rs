//! crossview
