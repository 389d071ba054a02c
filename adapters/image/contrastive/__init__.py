"""Contrastive explanations for images: "why class A and not class B?".

* :mod:`~.cdeepex`: the constrained latent search of CDeepEx (thesis "Deep Contrastive Explanation", chapter 3,
  eq. 3.2 solved with the augmented Lagrangian of eq. 3.3 and the ``c`` update of eq. 3.4);
* :mod:`~.vae`: the variational autoencoder that gives CDeepEx its latent space (``hnsx train-generator``);
* :mod:`~.regions`: the difference image and the sliding-window region selection of section 3.1.3.

Nothing in the core (``hnsx/``) imports this package; the CLI reaches it through the image modality.
"""
