from .plugin import lab, make_lab, standin_binary  # noqa: F401  (fixtures for this folder)
