//! Builder (todo).
