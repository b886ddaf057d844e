# The official WeakCLIP code's CLIP tower sizes (hustvl/WeakCLIP, for its converted release: the
# weakclip-official_* configs): open_clip's ViT-B-16 dimensions with a 512-px image grid (1025 position rows) and a
# 13-token text context, the tables the released file holds.
weakclip_official_clip = dict(
    embed_dim=512,
    vision_cfg=dict(image_size=512, layers=12, width=768, patch_size=16),
    text_cfg=dict(context_length=13, vocab_size=49408, width=512, heads=8, layers=12))
