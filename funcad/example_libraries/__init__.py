"""funcad.example_libraries: JAX's example libraries that its examples import
(``optimizers``, ``stax``), so that those programs run after changing their imports."""
