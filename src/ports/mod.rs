//! Ports: the traits the edges implement (`Cloud`, `CommandStore`, `Dedup`) and the plain settings they receive.
