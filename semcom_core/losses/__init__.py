"""Training losses shared by the methods."""

from .contrastive import ProjectionHead, info_nce, soft_update, supervised_contrastive

__all__ = ["ProjectionHead", "info_nce", "soft_update", "supervised_contrastive"]
