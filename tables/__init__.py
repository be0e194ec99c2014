"""RocksDB-backed Faust tables: per-player state and profiles."""
