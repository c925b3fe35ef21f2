package host

// Facts are what a driver's probe learned of its backend on a host, for
// `everywhere hosts`: fields, never a sentence to take apart.
type Facts struct {
	Available bool   `json:"available"`
	Reason    string `json:"reason,omitempty"`  // why the backend did not answer
	Version   string `json:"version,omitempty"` // the backend's (or kernel's) version
	API       string `json:"api,omitempty"`     // the API version it speaks
	Arch      string `json:"arch,omitempty"`    // architecture(s) as it reports them
	OS        string `json:"os,omitempty"`
	Note      string `json:"note,omitempty"` // what to know besides: emulation, no TLS
}
