//! Docker and compose argv builders (pure functions, unit-tested) and image
//! build, export and shipping.
