"""The capture archive: the capture folders in OUT, looked at over time.

- `history`  `captures list` and `captures prune` (what is in OUT, what may go)
- `trend`    `captures trend`: one tile's top functions across the history
- `lock`     the schedule lock that keeps two runs of one cron schedule apart
"""
