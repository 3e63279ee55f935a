import './base.css';
import './layout.css';
import './selection.css';
import './runs.css';
import './lineage.css';
import './fields.css';
