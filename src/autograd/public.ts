// The `autograd` namespace (PyTorch's torch.autograd): anomaly detection so far.
export { detectAnomaly, setDetectAnomaly, isAnomalyEnabled } from './anomaly.js';
