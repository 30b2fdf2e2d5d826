"""The `cga` command line: a thin shell over the library packages."""
