# DALNet's component ablation on toy-clip-dense: GIA only (E2), LEA and the cross-contrastive loss dropped;
# everything else, the start (toy-clip-dense) and the iterations are dalnet_toy-clip-dense's (a row of
# tools/analysis_tools/compare_methods.py).
_base_ = ['./dalnet_toy-clip-dense_1xb8-2k_toy-112x112.py']
model = dict(losses=dict(lea=None, cc=None))
toy_compare = dict(name='DALNet GIA only (toy-clip-dense)', init=None)
