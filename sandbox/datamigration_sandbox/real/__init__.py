"""The real control plane: etcd, kube-apiserver, kube-controller-manager, kube-scheduler and
weaviate-server built from their Go modules (scripts/build-servers.sh), with a process kubelet of
ours that runs pods as local processes and a small hostPath volume provisioner.

Self-contained: it reuses the emulator's pod-runner pieces (sandbox/jobs) but nothing else.
"""
