"""HTTP routes, one module per area. Domain errors become HTTP errors here and nowhere else."""
