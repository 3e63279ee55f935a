import { LabIcon } from '@jupyterlab/ui-components';

import explorerSvg from '../style/icons/explorer.svg';

/** Three parallel axes crossed by polylines: the explorer at a glance. */
export const explorerIcon = new LabIcon({ name: 'jupyterlab-dsi:explorer', svgstr: explorerSvg });
