"""The load benchmark behind `benches/load/run`, one module per concern (see the run
script's docstring for what it measures and how)."""
