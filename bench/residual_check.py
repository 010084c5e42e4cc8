#!/usr/bin/env python3
"""Does a residual network beat the plain numta28-best network on NumtaDB, trained the same way? A PyTorch check.

Usage: /usr/bin/python3 bench/residual_check.py plain|res THREADS SEED [TRAIN_LIST VALID_LIST]   (Debian's python3-torch, numpy, opencv)

Both arms train the numta28-best recipe (17 epochs, batch 128, SGD Nesterov 0.9, weight decay 5e-4, one-cycle to
0.1 with 25 % warm-up, label smoothing 0.1, random affine: +-10 deg, shift 10 %, scale 0.9-1.1, shear +-10 deg) on
NumtaDB's 28x28 frames as they are. "plain" is configs/numta28-best.yaml's network; "res" replaces its second
64->64 convolution and adds a 128->128 one, each as a residual block (x + BN(conv(ReLU(BN(conv(x)))))), 760k parameters.
It prints validation accuracy and macro-F1 after every epoch.

It reads the split from TRAIN_LIST and VALID_LIST (default /tmp/split.train.csv and /tmp/split.valid.csv; lines "path,label"): Ongko's own split of
configs/numta28-best.yaml, written by a throwaway C# program that references src/Ongko:
    var config = Ongko.Serialization.ConfigFile.Load("configs/numta28-best.yaml"); config.DataDir = "../shared/data/numtadb28";
    var (train, valid) = Ongko.Runs.TrainingRun.ReadSplit(config);
    File.WriteAllLines("/tmp/split.train.csv", train.Select(s => $"{s.Path},{s.Label}"));  // and the same for valid
"""
import sys, time, math, numpy as np, cv2, torch, torch.nn as nn, torch.nn.functional as F
arch, threads, seed = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
torch.set_num_threads(threads); torch.manual_seed(seed); np.random.seed(seed)
def load(path):
    rows = [l.rsplit(',', 1) for l in open(path).read().split('\n') if l]
    x = np.stack([cv2.resize(cv2.imread(p, cv2.IMREAD_GRAYSCALE), (28, 28), interpolation=cv2.INTER_AREA) for p, _ in rows]).astype(np.float32) / 255
    return torch.from_numpy(x[:, None]), torch.tensor([int(l) for _, l in rows])
lists = sys.argv[4:6] if len(sys.argv) >= 6 else ['/tmp/split.train.csv', '/tmp/split.valid.csv']
xt, yt = load(lists[0]); xv, yv = load(lists[1])
print(arch, 'train', xt.shape, 'valid', xv.shape, 'mean', float(xt.mean()), flush=True)
def cbr(i, o): return [nn.Conv2d(i, o, 3, 1, 1, bias=False), nn.BatchNorm2d(o), nn.ReLU()]
class Res(nn.Module):
    def __init__(s, c):
        super().__init__(); s.a = nn.Sequential(*cbr(c, c)); s.c = nn.Conv2d(c, c, 3, 1, 1, bias=False); s.b = nn.BatchNorm2d(c)
    def forward(s, x): return F.relu(x + s.b(s.c(s.a(x))))
head = lambda k: [nn.Flatten(), nn.Dropout(0.2), nn.Linear(k, 256, bias=False), nn.BatchNorm1d(256), nn.ReLU(), nn.Dropout(0.2), nn.Linear(256, 10)]
if arch == 'plain':
    net = nn.Sequential(*cbr(1, 32), nn.MaxPool2d(2), *cbr(32, 64), *cbr(64, 64), nn.MaxPool2d(2), *cbr(64, 128), nn.MaxPool2d(2), *head(128 * 9))
else:
    net = nn.Sequential(*cbr(1, 32), nn.MaxPool2d(2), *cbr(32, 64), Res(64), nn.MaxPool2d(2), *cbr(64, 128), Res(128), nn.MaxPool2d(2), *head(128 * 9))
print('parameters', sum(p.numel() for p in net.parameters()), flush=True)
epochs, batch = 17, 128
steps = math.ceil(len(xt) / batch) * epochs
opt = torch.optim.SGD(net.parameters(), lr=0.1, momentum=0.9, nesterov=True, weight_decay=5e-4)
sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=0.1, total_steps=steps, pct_start=0.25)
def augment(x):
    n = x.shape[0]
    ang = (torch.rand(n) * 2 - 1) * math.radians(10); sh = (torch.rand(n) * 2 - 1) * math.radians(10)
    sc = 0.9 + torch.rand(n) * 0.2; tx = (torch.rand(n) * 2 - 1) * 0.2; ty = (torch.rand(n) * 2 - 1) * 0.2
    a = torch.zeros(n, 2, 3)
    a[:, 0, 0] = torch.cos(ang) / sc; a[:, 0, 1] = (-torch.sin(ang) + torch.tan(sh) * torch.cos(ang)) / sc; a[:, 0, 2] = tx
    a[:, 1, 0] = torch.sin(ang) / sc; a[:, 1, 1] = torch.cos(ang) / sc; a[:, 1, 2] = ty
    return F.grid_sample(x, F.affine_grid(a, x.shape, align_corners=False), align_corners=False)
def macro_f1(pred, y):
    f = []
    for c in range(10):
        tp = ((pred == c) & (y == c)).sum().item(); fp = ((pred == c) & (y != c)).sum().item(); fn = ((pred != c) & (y == c)).sum().item()
        f.append(0 if tp == 0 else 2 * tp / (2 * tp + fp + fn))
    return sum(f) / 10
start = time.time(); best = 0
for epoch in range(1, epochs + 1):
    net.train(); perm = torch.randperm(len(xt))
    for i in range(0, len(xt), batch):
        idx = perm[i:i + batch]
        loss = F.cross_entropy(net(augment(xt[idx])), yt[idx], label_smoothing=0.1)
        opt.zero_grad(); loss.backward(); opt.step(); sched.step()
    net.eval()
    with torch.no_grad(): pred = torch.cat([net(xv[i:i + 512]).argmax(1) for i in range(0, len(xv), 512)])
    f1 = macro_f1(pred, yv); best = max(best, f1)
    print(f'{arch} epoch {epoch} valid acc {(pred == yv).float().mean().item():.4f} macro-F1 {f1:.4f} ({time.time() - start:.0f} s)', flush=True)
print(f'{arch} last {f1:.4f} best {best:.4f} time {time.time() - start:.0f} s', flush=True)
