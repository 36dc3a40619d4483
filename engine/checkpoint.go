package engine

import "github.com/goflyte/goflyte/engine/sandbox"

// checkpoints returns where an attempt of n saves its checkpoint, and the
// checkpoint it starts from: the latest earlier attempt's that saved one,
// else, in a resumed run, the one the task's last attempt saved there.
// Finding the previous one costs a stat per earlier attempt, so a first
// attempt outside a resumed run costs nothing.
func (x *execution) checkpoints(n *Node, attempt int) (dir, prev string, err error) {
	name := x.prefix + n.Name
	if dir, err = x.run.CheckpointDir(name, attempt); err != nil {
		return "", "", err
	}
	prev = x.run.PrevCheckpoint(name, attempt)
	if r := x.opts.Resume; prev == "" && r != nil {
		attempts := max(n.Retries+1, r.taskAttempts(name))
		prev = (&sandbox.Run{Dir: r.RunDir}).PrevCheckpoint(name, attempts+1)
	}
	return dir, prev, nil
}
