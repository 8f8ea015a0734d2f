//! The deploy engine: plans, executes and emits typed events. It knows
//! nothing of terminals; renderers consume its events.
