"""Recipes: validated TOML descriptions of experiments."""

from dafw.recipe.errors import RecipeError, RecipeIssue
from dafw.recipe.loader import (
    DATA_ROOT_ENV,
    iter_components,
    load_recipe,
    recipe_to_dict,
    resolve_data_root,
)
from dafw.recipe.schema import Recipe

__all__ = [
    "DATA_ROOT_ENV",
    "Recipe",
    "RecipeError",
    "RecipeIssue",
    "iter_components",
    "load_recipe",
    "recipe_to_dict",
    "resolve_data_root",
]
