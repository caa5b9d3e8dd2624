"""Counterfactual checks of a baseline: would the project's forest have been lost without it? Estimated by
methods that do not share the baseline's assumptions (pixel matching, placebo in time), scored against the
simulator's truth in docs/credibility.md."""
