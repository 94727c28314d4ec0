"""The warm server: one background process per home dir keeps the models loaded for `ask` and `explain`.

``protocol`` (paths, JSON lines, what must match), ``daemon`` (the server process), ``client`` (connect or start).
"""
