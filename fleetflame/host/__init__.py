"""Inspecting a host: the one place that knows what a validator looks like from the outside.

- `targets`  the TARGET grammar (`all`, `agave`, `verify:3`, `verify:*`) and the known tile kinds
- `metrics`  the validator's metrics page: tile_pid / tile_tid / tile_status
- `threads`  the host's threads in /proc, and tiles found by thread name (the fallback)
- `tiles`    which tiles a target selects on a host, and which it skips (shut down, booting)
- `resolve`  metrics first, /proc second: one path for `tiles`, `check` and a capture
- `scripts`  the fixed shell scripts that list threads and gather `check`'s facts
- `probe`    `fleetflame tiles`; `check` is `fleetflame check`
"""
