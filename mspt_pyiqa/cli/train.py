"""``mspt-face train RECIPE``: run (or resume) a multi-stage progressive training recipe."""
from __future__ import annotations

import argparse
import logging
from pathlib import Path
from typing import Any, Dict, List

import yaml

logger = logging.getLogger(__name__)


def parse_overrides(items: List[str]) -> Dict[str, Any]:
    """``key.sub=value`` strings -> dict; values parsed with ``yaml.safe_load`` (numbers, bools, lists)."""
    out: Dict[str, Any] = {}
    for item in items:
        if "=" not in item:
            raise ValueError(f"--set expects KEY=VALUE, got {item!r}")
        key, value = item.split("=", 1)
        try:
            out[key.strip()] = yaml.safe_load(value)
        except yaml.YAMLError as err:
            raise ValueError(f"--set {item!r}: value is not valid YAML ({str(err).splitlines()[0]})") from None
    return out


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("recipe", type=Path, help="recipe YAML: a file, or a packaged recipe (options/recipes/NAME.yml or NAME)")
    parser.add_argument("--out", type=Path, default=None, help="run folder (default: runs/<recipe name>); an existing one is resumed")
    parser.add_argument(
        "--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
        help="override a recipe key, dotted; e.g. overrides.train.total_epoch=2, anti_forgetting.distill=0, num_gpu=1",
    )
    parser.add_argument("--no-forgetting", action="store_true", help="skip the forgetting table at the end")
    parser.add_argument("--dry-run", action="store_true",
                        help="validate the recipe and its stage files, print the resolved stages (or every problem) and exit")
    parser.add_argument("--publish", action="store_true",
                        help="after the run, copy its final checkpoint into the package's weights folder and write its "
                             "catalog entry (the recipe's release: block; a run from uncommitted changes is refused)")
    parser.add_argument("--default", action="store_true", help="with --publish: make it the default release")


def dry_run(args: argparse.Namespace) -> int:
    """Validate without training: 0 and the resolved stages, or 2 and every problem (one per line)."""
    from mspt_pyiqa.train.recipe import check_recipe, describe_stages, is_auxiliary

    try:
        overrides = parse_overrides(args.overrides)
    except ValueError as err:
        print(f"error: {err}")
        return 2
    recipe, stages, problems = check_recipe(args.recipe, overrides)
    if problems:
        print(f"{len(problems)} problem(s):")
        for p in problems:
            print(f"error: {p}")
        return 2
    print(f"recipe {recipe.get('name', args.recipe.stem)}: {len(stages)} stage(s), valid")
    for line in describe_stages(stages, [is_auxiliary(recipe, k) for k in range(len(stages))]):
        print("  " + line)
    return 0


def run(args: argparse.Namespace) -> int:
    from mspt_pyiqa.data.meta import MetaInfoError
    from mspt_pyiqa.train.recipe import RecipeError, run_recipe
    from mspt_pyiqa.weights import WeightsError

    if args.dry_run:
        return dry_run(args)
    try:
        overrides = parse_overrides(args.overrides)
        out = args.out or Path("runs") / args.recipe.stem
        summary = run_recipe(args.recipe, out, overrides=overrides, forgetting=not args.no_forgetting)
        if args.publish:
            published = publish(args.recipe, out, overrides, args.default)
    except (RecipeError, MetaInfoError, WeightsError, ValueError) as err:
        logger.error("%s", err)
        return 2
    for st in summary["stages"]:
        print(f"{st['name']}: best {st['best_checkpoint']} sha256 {st['best_sha256'][:16]}... (started from {st['pretrain_sha256'] and st['pretrain_sha256'][:16]})")
    if args.publish:
        print(f"published {published}")
    return 0


def publish(recipe_arg: Path, out: Path, overrides: Dict[str, Any], make_default: bool) -> Path:
    """Publish the finished run ``out`` of ``recipe_arg`` into the package's weights folder."""
    from mspt_pyiqa.options import resolve_option_file
    from mspt_pyiqa.train.publish import publish_run
    from mspt_pyiqa.train.recipe import check_recipe
    from mspt_pyiqa.weights import package_weights_dir

    recipe, _, problems = check_recipe(recipe_arg, overrides)
    if problems:
        raise ValueError(f"recipe {recipe_arg}: {problems[0]}")
    path = resolve_option_file(recipe_arg).resolve()
    options = Path(__file__).resolve().parent.parent / "options"
    ref = str(path.relative_to(options.parent).as_posix()) if options in path.parents else str(recipe_arg)
    return publish_run(out, recipe, package_weights_dir(), ref, make_default=make_default or None)
