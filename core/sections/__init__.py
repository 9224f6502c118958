"""Recipe tables, one module per stage. :mod:`jre.recipe` assembles them into a recipe."""
