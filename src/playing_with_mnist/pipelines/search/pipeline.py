"""Wiring of the ``search`` pipeline: one node prepares the study, ``search.workers`` independent nodes run its
trials against the shared storage (a parallel runner such as the DaskRunner runs them side by side; the
sequential runner one after another, the later ones finding the budget spent), and one node reports."""

from functools import partial, update_wrapper

from kedro.pipeline import Node, Pipeline

from playing_with_mnist.search import registered_workers
from playing_with_mnist.tracking.trials import SEARCH_TAG

from .nodes import prepare_search, run_trials, summarise_search


def create_pipeline(**kwargs) -> Pipeline:
    workers = range(registered_workers())
    trials = [Node(update_wrapper(partial(run_trials, worker=worker), run_trials),
                   ["search_plan", "params:search", "params:train", "character_images", "train_val_split"],
                   f"trials_ran_{worker}", name=f"trials_{worker}", tags=[SEARCH_TAG]) for worker in workers]
    return Pipeline(
        [
            Node(prepare_search, ["params:search", "params:train"], "search_plan", name="prepare_search"),
            *trials,
            Node(summarise_search, ["params:search", *(f"trials_ran_{worker}" for worker in workers)],
                 ["trials", "history", "importance", "best_recipe", "results"], name="summarise_search"),
        ],
        namespace="search",
        inputs={"character_images", "train_val_split"},
        parameters={"params:search", "params:train"},
    )
