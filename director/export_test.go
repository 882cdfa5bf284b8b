package director

// SetBatchTuning chooses how Start runs a big batch, for measurements.
func (d *Director) SetBatchTuning(oneProc, noGC bool) { d.tuning = batchTuning{oneProc, noGC} }
