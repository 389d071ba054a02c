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
