"""Stage 4, the releases: `deploy` (dev) → `smoke` → `promote` (staging, then prod with an
approval); `releases` lists the records, `rollback` goes back to one."""
