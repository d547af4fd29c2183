"""The SpatialDreamer diffusion refiner: model, self-supervised training, inference (CVPR 2025, Lv et al.).

It takes the geometric DVG result (the target view rendered from depth, its holes filled, and the
propagated occlusion mask) with the reference view, and regenerates the target view so disocclusions and
moving hole edges are filled consistently in space and time. Diffusers style throughout: ``configs``
(tiny / small / svd-xt), ``models`` (the denoiser = SVD's spatio-temporal UNet with the stereo-deviation
embedding; RefinerNet = SD 2.1's UNet; the fixed patch autoencoder), ``attention`` (reference writer/reader
processors, TIL), ``losses``, ``pipeline`` (``SpatialDreamerPipeline``), ``train`` (Accelerate), ``data``
(the PairDataset.1 reader), ``tiling`` (windows, tiles), ``composite``. Importing this package is light:
diffusers, transformers and accelerate load only with the sub-modules that need them.

Choices the paper leaves open, and why
--------------------------------------
Model
* Denoiser input (9 channels with SVD's VAE): noisy target latent (4) ‖ warped-view latent (4) ‖ occlusion
  mask (1). SVD's conv_in has 8 channels (noisy ‖ conditioning image); its weights go to our first 8 (the
  warped view takes the conditioning image's slot, the closest role), the mask channel starts at zero, so
  a freshly loaded denoiser computes exactly what SVD computes.
* The warped view's latent is the VAE posterior mode *without* the scaling factor, with SVD's noise
  augmentation (σ = ``noise_aug_strength`` = 0.02 in pixel space, also passed as SVD's added time id) —
  how SVD encodes its conditioning image, so SVD's weights see what they were trained on. The warped view
  has its hole pixels black, at training (the pair builder's back render) and at inference (we black out
  the mask), so both see the same thing.
* The mask is area-averaged to latent size (the fraction of hole pixels per latent cell), not max-pooled:
  partial cells keep that information.
* Every latent is the posterior mode (deterministic; SVD's VAE posterior is nearly a point).
* Image embedding: CLIP of the reference frames (SVD's image encoder). The denoiser, which takes one
  embedding per clip, gets the mean over the window's reference frames (SVD takes a single image);
  RefinerNet gets each frame's own. The CPU configs have no image encoder (a random CLIP carries no
  information); they pass zeros.
* RefinerNet runs on the *clean* reference latents at timestep 0 (as ReferenceNet-style branches do), once
  per window and tile — not once per denoising step, since nothing it sees changes between steps.
* Reference attention: "concatenate along height, self-attend, keep the first half" is computed as
  attention with the denoiser's queries over [own ‖ reference] keys/values (identical because self-
  attention has no positional terms; the test holds them equal). RefinerNet's features are the *inputs*
  of its spatial self-attention (the denoiser concatenates them with its own attention inputs: the same
  feature space, meaningful already at initialisation from SD 2.1 + SVD, which share SD's lineage).
* TIL: N_r neighbours are the nearest other frames of the window (t−1, t+1, t−2, …), averaging over those
  that exist at the window's edges; λ = 0.5, N_r = 2 by default (configurable). TIL replaces RefinerNet's
  own spatial self-attention output, so every later RefinerNet layer writes temporally-informed features.
* Stereo deviation strength: s = |z − z_ref| averaged over latent channels at latent resolution. Encoded by
  Fourier features of s (4 octaves, a positional-embedding-style encoding of the scalar) and a two-layer
  conv stem, average-pooled to each resolution and added, through one zero-initialised 1×1 conv per
  residual block, to the hidden states entering every ``SpatioTemporalResBlock`` (forward pre-hooks; no
  forward replaced). Training takes s from the target latent z₀; inference from the geometric render's
  latent. The editor's stereo strength (the divergence keyframes) sets the geometric render, hence s: a
  stronger 3D amount means larger deviations the model is told about.

Objective and noise
* l = l_v + λ_d·l_d, λ_d = 0.1 (l_d is an auxiliary regulariser; l_v carries the denoising); ẑ₀ for l_d is
  exactly the scheduler's ``pred_original_sample``.
* σ is log-normal (ln σ ~ N(0.7, 1.6), SVD fine-tuning practice) with the continuous timestep 0.25·ln σ;
  draws are stratified and quasi-random (one level from each equal-probability stratum in every batch,
  offset along the golden-ratio sequence) instead of random, so consecutive steps cover the distribution
  evenly — the raw per-step loss, dominated by σ, compares from step to step — and a resumed run draws
  exactly the same levels. Euler with Karras sigmas, σ_max 700 (SVD's) for svd-xt, 20 σ_d for the CPU
  configs (below).
* Classifier-free guidance is on the reference: training drops RefinerNet's features and the image
  embedding for 10 % of clips (the reader then attends to its own tokens, exactly plain self-attention);
  the unconditional branch keeps the warped view and mask — they are the geometry, not a prompt.
* Left/right swap: a horizontal mirror of every image of a clip (p = 0.5). The pair builder's example is
  right reference → left target; mirroring turns it into left → right, the direction used at inference,
  so both directions are learned.
* The training example (``engine.refiner.data``): reference x2 (the pair builder's right view), geometric
  input the back render of x2 (holes m1 black), ground truth the real left frame x1 — supervision by
  real pixels, in exactly the kind of region a render leaves open.

The CPU configs
* ``tiny``/``small`` use a fixed, non-learned autoencoder (space-to-depth on 2×2 / 4×4 patches: exactly
  invertible) because a learned VAE cannot be trained, nor a random one used, in a CPU budget.
* They predict the *residual* over the geometric render, with EDM's preconditioning at the residual's
  data scale σ_d = 0.2 (the RMS of real − geometric fill over the hole pixels of the training pairs): the
  network sees the noisy residual c_in·(z_σ − b), c_in = 1/√(σ² + σ_d²), and ẑ₀ = b + c_skip·(z_σ − b) −
  c_out·v̂_r. The prior b is the geometric path's own spatial fill of the render's holes (background-side
  row fill + membrane fill, ``evaluation.geometric_fill``, from the reference view's disparity that the pair
  dataset stores as depth), so training corrects exactly the fill that inference hands the refiner. The
  denoiser's output convolution starts at zero: the untrained model *is* the Gaussian-prior denoiser
  around the geometric render, and the loss curve measures what is learnt beyond it. A from-scratch UNet
  cannot learn to reproduce its input in a CPU hour (measured: the plain v-parametrisation trained for the
  same budget scored ~10 dB on hole pixels, worse than leaving the holes black); with the prior it starts at
  the geometric render and learns the correction. svd-xt keeps the paper's plain v-prediction: SVD's
  weights already know images.
* Their noise levels are SVD's recipe in units of σ_d: ln σ ~ N(ln σ_d, 1.2) for training, Karras sampling
  from σ_max = 20 σ_d (beyond that the residual is invisible in the noise), starting at b + noise.
* Their loss gives the latent cells of the holes (grown by one cell) a fixed 10 % share of the loss, the
  rest of the frame the other 90 % (``TrainSettings.hole_share``; a plain mean would give the holes their
  ~3 % of the cells, and its value would swing with each clip's hole fraction). 10 %, not more: the loss
  is still the paper's objective over the whole view (``--refiner-blend full`` uses all of it), with the
  holes — where the refiner is composited — weighted up about threefold. ``small`` uses AdamW at 1e-3 with
  a 50-step warm-up, a cosine decay to ``max_steps`` and gradient clipping at 1.

Inference
* Temporal windows anchored at the shot's first frame with stride window − overlap; the last window is
  padded by repeating the last frame (also how a shot shorter than a window is handled); overlapping
  windows are blended in pixel space with complementary linear ramps. Each window's initial noise (and
  noise augmentation) comes from a generator seeded by BLAKE2b("seed:shot start:window start"), so a
  farm render in shot-aligned chunks equals a single render.
* Spatial tiles: all tiles of a window are denoised together, each step's v averaged over tiles with
  ramped weights (MultiDiffusion-style), so hallucinated content agrees across seams; RefinerNet runs per
  tile. The VAE decodes in chunks of frames, not tiles.
* Composite (``convert`` default): the refined eye over the propagated occlusion mask grown by 3 px and
  feathered over 4 px; every real, sharp pixel of the geometric render stays. ``--refiner-blend full``
  takes the whole refined view, as the paper does. With ``--synthesize both`` each synthesised eye is
  refined with the source view as its reference.
* Precision: bf16 autocast for training on CUDA; inference in bf16 (fp16 where bf16 is unsupported) on
  CUDA, fp32 on the CPU.
* Training keeps an EMA of the weights (diffusers EMAModel with warm-up); the pipeline written at the top of
  the output folder holds the EMA weights.
"""

from __future__ import annotations

from engine.refiner.configs import CONFIGS, InferenceSettings, RefinerConfig, TrainSettings, get_config

__all__ = ["CONFIGS", "InferenceSettings", "RefinerConfig", "TrainSettings", "get_config"]
