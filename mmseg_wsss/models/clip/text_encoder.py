from typing import Dict, Optional, Sequence, Union

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmengine.model import BaseModule
from mmseg.registry import MODELS
from open_clip.transformer import text_global_pool
from torch import Tensor

from .openclip import build_open_clip, tokenizer_for
from . import prompts as P


@MODELS.register_module()
class OpenCLIPTextEncoder(BaseModule):
    """Frozen open_clip text tower with prompts for the dataset's classes.

    Fixed prompts (every template x class, averaged per class, and the class-related background prompts) are
    encoded once at construction and kept as non-persistent buffers: no text-encoder forward per iteration.
    Optional learnable parts (CoOp-style ``n_ctx`` context vectors placed before the class name, and a learnable
    background embedding) make ``forward`` run the frozen text transformer, with gradients to those parameters only.

    Args:
        model_name / pretrained / model_cfg / quick_gelu: see :func:`build_open_clip` (``pretrained`` tag or local
            path; ``quick_gelu=None`` takes the activation from the tag: QuickGELU for OpenAI's weights).
        class_names: 'voc12', 'coco14' or a list of foreground class names (written for CLIP).
        templates: prompt templates with one ``{}`` (a name from ``prompts.TEMPLATES`` or a list).
        bg_prompts: class-related backgrounds (CLIMS), encoded with ``bg_template``: a {class name: [words]}
            mapping (the paper's per-class sets; ``bg_owner`` = the class index), a list of words shared by every
            class, or the name of the official code's shared list, 'clims_code_voc12' / 'clims_code_coco14'
            (``bg_owner`` = -1: the prompt belongs to every class).
        rename: {class name: name used in the prompt}, e.g. ``dict(person='player')`` as the official CLIMS
            prompts write it.
        n_ctx: learnable context tokens (0 = none), placed right after the start token: ``[SOT, ctx_1..n, name
            tokens, suffix, EOT]`` (CoOp; WeakCLIP Eq. 5).
        ctx_std: the context vectors' initialisation, N(0, ctx_std^2) (WeakCLIP's code: truncated normal, std 1).
        ctx_init: words whose token embeddings initialise the context vectors instead (CoOp's "a photo of a":
            the learnable prompt starts as that fixed prompt); they must tokenise to ``n_ctx`` tokens.
        ctx_suffix: what follows the class name in a learnable prompt ('.'; WeakCLIP's code: nothing).
        learnable_bg: a learnable background embedding initialised from ``background_prompt``.
        normalize (bool): L2-normalise the class embeddings ``forward`` returns (default). WeakCLIP's code feeds
            its decoder the projected EOT features un-normalised (``normalize=False``).
    """
    weights_at_build = True  # its tower's weights come from `pretrained` when it is built (checkpoint rule)


    def __init__(self,
                 model_name: str = 'ViT-B-16',
                 pretrained: Optional[str] = 'openai',
                 model_cfg: Optional[dict] = None,
                 class_names: Union[str, Sequence[str]] = 'voc12',
                 templates: Union[str, Sequence[str]] = 'single',
                 bg_prompts: Union[None, str, Sequence[str], Dict[str, Sequence[str]]] = None,
                 rename: Optional[Dict[str, str]] = None,
                 bg_template: str = 'a photo of {}.',
                 background_prompt: Optional[str] = None,
                 n_ctx: int = 0,
                 ctx_std: float = 0.02,
                 ctx_init: Optional[str] = None,
                 ctx_suffix: str = '.',
                 learnable_bg: bool = False,
                 normalize: bool = True,
                 quick_gelu: Optional[bool] = None,
                 init_cfg=None):
        super().__init__(init_cfg=init_cfg)
        clip = build_open_clip(model_name, pretrained, model_cfg, config_key='text_encoder.pretrained',
                               quick_gelu=quick_gelu)
        clip.visual = None  # only the text tower is kept
        self.clip = clip
        self.tokenize = tokenizer_for(model_name, model_cfg)
        self.class_names = class_names_ = P.class_names(class_names)
        unknown = set(rename or {}) - set(class_names_)
        if unknown:
            raise KeyError(f'rename names classes that are not in class_names: {sorted(unknown)}')
        prompt_names = [(rename or {}).get(c, c) for c in class_names_]
        self.templates = P.templates(templates)
        self.n_ctx = n_ctx
        self.normalize = normalize

        with torch.no_grad():
            raw = torch.stack([self._encode_texts([t.format(c) for c in prompt_names], normalize=False)
                               for t in self.templates])  # (templates, K, D), encoded once
            self.register_buffer('fixed_class_embeddings',
                                 F.normalize(F.normalize(raw, dim=-1).mean(0), dim=-1), persistent=False)
            if not normalize:  # un-normalised prompts: the mean of the templates' raw embeddings
                self.register_buffer('fixed_class_embeddings_raw', raw.mean(0), persistent=False)
            bg_texts, owner = [], []
            words = P.background_words(bg_prompts)
            if isinstance(words, dict):
                unknown = set(words) - set(class_names_)
                if unknown:
                    raise KeyError(f'bg_prompts name classes that are not in class_names: {sorted(unknown)}')
                for k, name in enumerate(class_names_):
                    for word in words.get(name, ()):
                        bg_texts.append(bg_template.format(word))
                        owner.append(k)
            else:  # one list shared by every class
                bg_texts = [bg_template.format(word) for word in (words or ())]
                owner = [-1] * len(bg_texts)
            self.bg_texts = bg_texts
            emb = self._encode_texts(bg_texts) if bg_texts else torch.zeros(0, self.embed_dim)
            self.register_buffer('bg_embeddings', emb, persistent=False)
            self.register_buffer('bg_owner', torch.tensor(owner, dtype=torch.long), persistent=False)
            bg = self._encode_texts([background_prompt])[0] if background_prompt else None
        if learnable_bg:
            if bg is None:
                raise ValueError('learnable_bg needs a background_prompt to start from')
            self.background = nn.Parameter(bg.clone())
        elif bg is not None:
            self.register_buffer('background', bg, persistent=False)
        else:
            self.background = None

        if n_ctx > 0:
            width = clip.token_embedding.weight.shape[1]
            self.ctx = nn.Parameter(torch.empty(n_ctx, width))
            if ctx_init is None:
                nn.init.trunc_normal_(self.ctx, std=ctx_std, a=-2 * ctx_std, b=2 * ctx_std)
            else:
                self.ctx.data.copy_(self._word_embeddings(ctx_init, n_ctx))
            prompts = [' '.join(['X'] * n_ctx) + f' {c}{ctx_suffix}' for c in prompt_names]
            self.register_buffer('ctx_tokens', self.tokenize(prompts), persistent=False)
        else:
            self.ctx = None

    @torch.no_grad()
    def _word_embeddings(self, words: str, n: int) -> Tensor:
        """(n, width) token embeddings of ``words`` (without the start and end tokens), which must be n tokens."""
        tokens = self.tokenize([words])[0]
        body = tokens[1:int((tokens != 0).sum()) - 1]  # between SOT and EOT (open_clip pads with 0)
        if len(body) != n:
            raise ValueError(f'ctx_init {words!r} is {len(body)} tokens but n_ctx is {n}')
        return self.clip.token_embedding(body.to(self.clip.token_embedding.weight.device))

    @property
    def embed_dim(self) -> int:
        proj = self.clip.text_projection
        return proj.out_features if isinstance(proj, nn.Linear) else proj.shape[1]

    def _encode_tokens(self, tokens: Tensor, ctx: Optional[Tensor] = None, normalize: bool = True) -> Tensor:
        """open_clip's ``encode_text`` with optional context vectors replacing tokens 1..n_ctx."""
        m = self.clip
        x = m.token_embedding(tokens)
        if ctx is not None:
            x = torch.cat([x[:, :1], ctx[None].expand(x.shape[0], -1, -1).to(x.dtype), x[:, 1 + ctx.shape[0]:]], 1)
        x = x + m.positional_embedding.to(x.dtype)
        x = m.transformer(x, attn_mask=m.attn_mask)
        x = m.ln_final(x)
        x = text_global_pool(x, tokens, m.text_pool_type, eos_token_id=getattr(m, 'text_eos_id', None))
        x = m.text_projection(x) if isinstance(m.text_projection, nn.Linear) else x @ m.text_projection
        return F.normalize(x, dim=-1) if normalize else x

    def _encode_texts(self, texts, normalize: bool = True):
        device = self.clip.token_embedding.weight.device
        return self._encode_tokens(self.tokenize(list(texts)).to(device), normalize=normalize)

    def forward(self) -> Dict[str, Optional[Tensor]]:
        """class_embeddings (K, D) (L2-normalised unless ``normalize=False``), bg_embeddings (L, D) with bg_owner
        (L,) (class index, -1 = every class), background (D,) or None; the last three L2-normalised."""
        if self.ctx is not None:
            cls = self._encode_tokens(self.ctx_tokens, self.ctx, normalize=self.normalize)
        elif self.normalize:
            cls = self.fixed_class_embeddings
        else:
            cls = self.fixed_class_embeddings_raw
        bg = F.normalize(self.background, dim=-1) if self.background is not None else None
        return dict(class_embeddings=cls, bg_embeddings=self.bg_embeddings, bg_owner=self.bg_owner, background=bg)

    def train(self, mode: bool = True):
        super().train(mode)
        self.clip.eval()  # frozen teacher: dropout and norms stay in eval mode
        return self

