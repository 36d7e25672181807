"""Running a flow in the foreground: wires the engine, the trigger and the console."""
