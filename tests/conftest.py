"""Shared test settings: one torch thread (tiny models run fastest so, and CI machines have 2 cores)."""

import pytest
import torch

torch.set_num_threads(1)


@pytest.fixture
def killed_after_epoch(monkeypatch):
    """``kill(epoch, train, *args, **kwargs)``: call ``train`` as if the process were killed (``KeyboardInterrupt``)
    right after it wrote the checkpoint of ``epoch``; the run folder is left as such a kill leaves it."""
    from hnsx.training.run_folder import RunFolder

    save_epoch = RunFolder.save_epoch

    def kill(epoch: int, train, *args, **kwargs) -> None:
        def stop(self, finished, *rest, **options):
            save_epoch(self, finished, *rest, **options)
            if finished == epoch:
                raise KeyboardInterrupt

        with monkeypatch.context() as patch:
            patch.setattr(RunFolder, "save_epoch", stop)
            with pytest.raises(KeyboardInterrupt):
                train(*args, **kwargs)

    return kill


@pytest.fixture
def digits_subset():
    """``subset(n_train, n_eval)``: the first images of scikit-learn's digits (split seed 0) as an ``ImageData``."""
    from torch.utils.data import TensorDataset

    from hnsx.adapters.image.data import ImageData, load_sklearn_digits

    def subset(n_train: int, n_eval: int) -> ImageData:
        digits = load_sklearn_digits(seed=0)
        return ImageData(
            train=TensorDataset(*[t[:n_train] for t in digits.train.tensors]),
            eval=TensorDataset(*[t[:n_eval] for t in digits.eval.tensors]),
            num_classes=digits.num_classes,
            input_shape=digits.input_shape,
            name="digits-small",
            class_names=digits.class_names,
        )

    return subset
